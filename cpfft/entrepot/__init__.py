"""The DuckDB warehouse (``scrapy entrepot``): both sources in one file, and the bridge.

:mod:`~cpfft.entrepot.inputs` finds and checks the files, :mod:`~cpfft.entrepot.load`
builds the warehouse and replaces the previous one atomically,
:mod:`~cpfft.entrepot.metiers` computes the jobs ↔ trainings bridge and
:mod:`~cpfft.entrepot.salaire` reads the offers' salary texts.
"""
