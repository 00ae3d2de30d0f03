from . import subscription_contract_close
from . import subscription_reminder_pause
