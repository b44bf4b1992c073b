"""The Mon Compte Formation catalogue (Opendatasoft portal of the Caisse des Dépôts): the
dataset's schema, ODSQL filters, the partition plan and the grouped-limit fallback
(:mod:`.plan`, pure), the themes of ``-a theme`` from the NSF nomenclature (:mod:`.themes`),
the portal's call quota (:mod:`.quota`), and the spider (:mod:`.spider`)."""
