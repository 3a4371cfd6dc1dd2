"""Nothing to migrate in this release."""


def upgrade(migrate_engine):
    pass


def downgrade(migrate_engine):
    pass
