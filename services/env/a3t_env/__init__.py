"""a3t env service: hosts environment sessions (ALFWorld, WebShop, API-Bank) behind gRPC."""
