"""What happens around every crawl, whatever the source: the run contract between spiders and
components (:mod:`.contract`), how a component says the run is incomplete or must stop
(:mod:`.state`), where the output goes (:mod:`.output`), resuming with JOBDIR
(:mod:`.resume`), the feed exporter that never spoils a good file (:mod:`.feeds`), and the
progress lines and summary (:mod:`.report`)."""
