"""`shopsync serve`: the small HTTP service merchants reach to install the app by the
authorization-code grant (FACTS §10.1), built so webhook receivers can join later."""

from service.app import ServiceContext, build_app
from service.settings import ServiceSettings

__all__ = ["ServiceContext", "ServiceSettings", "build_app"]
