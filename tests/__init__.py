from . import test_contract
from . import test_contract_states
from . import test_security
from . import test_billing
from . import test_billing_concurrency
from . import test_reminders
from . import test_renewal
from . import test_sepa
