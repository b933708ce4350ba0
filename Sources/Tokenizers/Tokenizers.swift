// Tokenizers: see ARCHITECTURE in README.
