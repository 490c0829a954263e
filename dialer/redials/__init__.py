"""Acting on outcomes: redials by a campaign's rules (planning, waiting), each contact's attempt
history, what people pressed (survey), and the best time to call."""
