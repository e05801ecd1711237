"""Fitting scenarios from measurements (``qsim fit``).

- :mod:`~qsim.fit.measurements` one column of a CSV file, with located errors
- :mod:`~qsim.fit.families` candidate distributions fitted by maximum likelihood
- :mod:`~qsim.fit.service` service times: fit, test, rank, write the winner
- :mod:`~qsim.fit.arrivals` publish times: a rate schedule and a Poisson check
- :mod:`~qsim.fit.snippet` figures in scenario syntax
"""
