"""The README example: uppercase words in parallel, then count them."""

from hymir import Chain, Group, Success, Workflow, job


@job(output="words")
def uppercase(word: str) -> Success:
    """Uppercase one word."""
    return Success(word.upper())


@job(inputs=["words"], output="count")
def count(words: list[str]) -> Success:
    """Count the uppercased words."""
    return Success(len(words))


def words_workflow() -> Workflow:
    """Uppercase three words in parallel, then count them."""
    return Workflow(Chain(Group(uppercase("hello"), uppercase("hymir"), uppercase("world")), count()))
