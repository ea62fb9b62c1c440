"""a3t controller: drives A3T rounds and keeps every trajectory in SQLite."""
