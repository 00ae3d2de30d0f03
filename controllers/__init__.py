from . import portal
from . import portal_selfservice
from . import portal_plan
