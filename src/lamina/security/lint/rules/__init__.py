"""The DL rules, grouped by what they look at; importing a module registers its rules."""
