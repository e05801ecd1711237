"""qsim's benchmark suite: speed, memory and correctness against raw SimPy and Ciw."""
