"""Operations: ``doctor`` checks what a run needs and says what is wrong in an operator's words.

May import ``service.delivery`` and everything below it; only the front doors import it.
"""
