"""Customer-level fraud: made-up accounts and several accounts for one buyer."""
