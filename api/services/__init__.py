"""What the routes do, by domain: each module reads the chain, the index and the stores through
the `Services` container (container.py) and returns the response schemas, so a route only
validates, calls one function here and answers."""
