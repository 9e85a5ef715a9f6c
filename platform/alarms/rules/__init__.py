"""One module per rule family; each is a small streaming evaluator."""
