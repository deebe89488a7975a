"""Building blocks shared by the web drivers: system users, nginx, PHP-FPM, MariaDB, archives."""
