app_name = "invoicing"
urlpatterns = []
