"""Pipeline components: wrap the pure nlp/ and geo/ code with configuration and state."""
