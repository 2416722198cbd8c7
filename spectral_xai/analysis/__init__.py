"""What the results support: paired comparisons with the scene as the unit, resampling, power,
the spectrum contrasts, the metrics' reliability and what each spectrum sees that the others miss."""
