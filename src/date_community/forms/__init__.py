"""Paper sign-up forms: layout, printing, reading (pure) and their records."""
