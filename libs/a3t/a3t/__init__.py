"""a3t core library: contracts, rpc bootstrap, settings, errors, metrics, trajectories."""

__version__ = "0.1.0"
