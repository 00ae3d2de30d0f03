from . import subscription_dashboard
from . import subscription_dashboard_cohort
from . import subscription_forecast
from . import subscription_revenue
