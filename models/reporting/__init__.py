from . import subscription_dashboard
from . import subscription_dashboard_cohort
