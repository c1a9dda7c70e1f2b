"""Neural-network layers, losses and optimizers built on adjit graphs (coming with the nn issue)."""
