# Copy to instance/config.py (`make run` writes one with generated secrets).
# Every setting can also be given as an environment variable CONSOLE_<NAME>.
SECRET_KEY = "change-me"  # 32+ random characters; signs sessions and derives the secrets key
SECURITY_PASSWORD_SALT = "change-me-too"  # keep stable: changing it invalidates every password
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://console@db/console"  # or CONSOLE_DATABASE_URL
# REDIS_URL = "redis://127.0.0.1:6379/0"                              # or CONSOLE_REDIS_URL: the shared read cache
# CACHE_SECONDS = {"dag_list": 10, "log": 120}                         # or CONSOLE_CACHE_SECONDS (JSON); see README
# SESSION_COOKIE_SECURE = False  # only when serving over plain http on localhost
# SMTP_HOST = "smtp.example.com"
