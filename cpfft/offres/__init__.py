"""France Travail « Offres d'emploi v2 »: search parameters and offer rows (:mod:`.search`),
credentials and OAuth2 tokens (:mod:`.credentials`, :mod:`.oauth`), how date bounds are read
(:mod:`.bounds`) and calibrated (:mod:`.calibration`), the date cursor that plans every call
(:mod:`.cursor`), the per-query state between runs (:mod:`.incremental`), and the spider
that turns the plan into requests (:mod:`.spider`)."""
