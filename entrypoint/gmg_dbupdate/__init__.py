"""gmg-dbupdate: the database-migration init job."""
