from . import subscription_contract_close
from . import subscription_contract_refuse_renewal
from . import subscription_contract_renew
from . import subscription_reminder_pause
from . import subscription_sepa_reject
from . import subscription_sepa_return_import
from . import subscription_contract_amend
from . import subscription_contract_renew_amendment
