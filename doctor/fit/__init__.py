"""`aidoctor fit`: will a fine-tune (or inference) of a model fit on a machine, and how fast will it run.

models.py reads a model's shape (catalog, config.json, Hub); memory.py is the pure
memory breakdown; speed.py the training and decode speed ranges; plan.py puts them
against a machine's hardware (hardware.py), gives the verdict and the cheapest
changes that make a plan fit. Nothing here imports torch.
"""
