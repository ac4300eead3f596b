"""Image files and the parsed records every reader of user files shares: headers, sizes,
validation issues, box tables."""
