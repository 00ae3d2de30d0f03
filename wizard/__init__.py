from . import subscription_contract_close
