def dashboard(request): pass
