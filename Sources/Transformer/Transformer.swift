// Transformer: see ARCHITECTURE in README.
