"""What the channel simulators share: the background dispatcher of notifications and refund
completions, and the book of faults set globally or per merchant."""
