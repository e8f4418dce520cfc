"""Generic persistence the wings' stores build on: engines, migrations, portable SQL, locks.

The stores themselves belong to their wings (the ledger to delivery, citizens to citizens, …).
"""
