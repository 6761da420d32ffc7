"""The bench's scenarios, each a function of the running stack and the sizes."""
