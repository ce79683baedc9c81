"""Authentication, the access policy and the protections around them."""
