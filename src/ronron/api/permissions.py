from typing import Any

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ronron.core.permissions import needs_second_factor


class IsStaff(BasePermission):
    """The API is for the hoster's admins; member managers get their own scope later.

    A console session counts only once its second factor is verified, as in the console:
    otherwise a stolen password would open the API where the console asks for a code. A token
    is its own credential (created by an admin on the server) and needs no code.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_active and user.is_staff):
            return False
        if isinstance(request.successful_authenticator, SessionAuthentication):
            return not needs_second_factor(user)
        return True
