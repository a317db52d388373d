from django.urls import path

from accounts.api import TokenObtainView, TokenRefreshView, UserRegisterView

urlpatterns = [
    path("register/", UserRegisterView.as_view(), name="auth-register"),
    path("token/", TokenObtainView.as_view(), name="auth-token"),
    path("token/refresh/", TokenRefreshView.as_view(), name="auth-token-refresh"),
]
