# Read by gunicorn when started from this directory (README, Production).
# Its access and error lines mask the tokens in URLs, as Django's own lines do.
logger_class = "mindweave_ir.gunicorn_logging.MaskingLogger"
