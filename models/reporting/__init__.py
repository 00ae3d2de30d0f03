from . import subscription_dashboard
