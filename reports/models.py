# Post-incident reviews, handoffs and metrics arrive with their own issues.
