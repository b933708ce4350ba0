// Generation: see ARCHITECTURE in README.
