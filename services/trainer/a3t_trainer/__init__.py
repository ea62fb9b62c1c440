"""a3t trainer service: contrastive policy-gradient (Q)LoRA training runs behind gRPC."""
