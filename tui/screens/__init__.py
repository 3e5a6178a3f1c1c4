"""Modal and full screens: order ticket, help, confirmations."""
