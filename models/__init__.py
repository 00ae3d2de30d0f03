from . import res_company
from . import subscription_close_reason
from . import subscription_plan
from . import subscription_contract
from . import subscription_contract_line
from . import subscription_contract_pause
from . import res_partner
from . import account_move
