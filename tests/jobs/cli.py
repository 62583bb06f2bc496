"""Example workflows for the `hymir` command's tests (tests/test_cli.py), one per situation."""

from hymir import Chain, Failure, Group, Job, Map, Success, Unit, Workflow, WorkflowState, job


@job(output="words")
def shout(word: str):
    """Uppercase one word."""
    return Success(word.upper())


@job(inputs=["words"], output="count")
def count(words: list[str]):
    """Count the words."""
    return Success(len(words))


@job(inputs=["words"])
def first(words: str):
    """Take one word (a single-valued input)."""
    return Success(words)


@job(inputs=["workflow_state"])
def report(workflow_state: WorkflowState):
    """Say how the workflow ended; registered as an ON_FINISHED callback."""
    return Success(f"workflow {workflow_state.status.value}")


@job()
def explode(message: str):
    """Fail with an exception."""
    raise RuntimeError(message)


@job()
def refuse(reason: str):
    """Fail with a Failure result."""
    return Failure(reason)


def nested() -> Workflow:
    """A Group with a nested Chain, then a count, then a report after everything."""
    workflow = Workflow(Chain(Group(shout("a"), Chain(shout("b"), shout("c"))), count()))
    return workflow.on(Workflow.Callbacks.ON_FINISHED, report())


#: A module-level Workflow object (not a factory).
single = Workflow(shout("x"))


def explicit() -> Workflow:
    """Built from explicit edges, so it has no Chain/Group structure."""
    return Workflow.from_graph({"load": shout("x"), "total": count()}, [("load", "total")])


def failing() -> Workflow:
    """One job raises while another succeeds in parallel; the count never runs; the report does."""
    workflow = Workflow(Chain(Group(shout("ok"), explode("boom"), refuse("no thanks")), count()))
    return workflow.on(Workflow.Callbacks.ON_FINISHED, report())


def broken() -> Workflow:
    """Five invalid jobs (1, 3, 4, 5, 6) and an invalid callback: Workflow() raises one error listing the five."""
    workflow = Workflow(
        Chain(
            count(),  # 1: its input 'words' is produced only after it
            Group(
                shout("a"),
                shout(("not", "json")),  # 3: a tuple is not JSON-safe
                Job.from_function(lambda: None),  # 4: a lambda cannot be imported by name
            ),
            first(),  # 5: two producers for a single-valued input
            refuse("no", "thanks"),  # 6: one argument too many
        )
    )
    return workflow.on(Workflow.Callbacks.ON_FINISHED, count().with_inputs("totals"))  # nobody makes 'totals'


def chain_only() -> Chain:
    """Forgets to wrap its Chain in a Workflow."""
    return Chain(shout("x"))


def needs_argument(size: int) -> Workflow:
    """A factory that cannot be called without arguments."""
    return Workflow(shout("x" * size))


not_a_workflow = 42


@job(inputs=["name", "times"], output="greeting")
def greet(*, name: str, times: int):
    """Greet with the run's params."""
    return Success(" ".join([f"hello {name}"] * times))


def greeting() -> Workflow:
    """One job that takes two workflow params."""
    return Workflow(Chain(greet()), params={"name": "world", "times": 1})


@job()
def group_1():
    """A job whose function has the id the first Group would get."""


@job()
def chain_1():
    """A job whose function has the id the first Chain would get."""


def clashing() -> Workflow:
    """Nested Chains and Groups around jobs named like the first of each, ending in a Group, with a report."""
    workflow = Workflow(
        Chain(
            Group(group_1(), Chain(chain_1(), shout("a"))),
            Group(shout("b"), Chain(shout("c"), chain_1())),
            Group(count(), group_1()),
        ),
        fail_fast=True,
    )
    return workflow.on(Workflow.Callbacks.ON_FINISHED, report())


@job(output="words")
def split(text: str):
    """Split a text into its words: the list a Map goes over."""
    return Success(text.split())


def mapped() -> Workflow:
    """Split a text, shout each word (mapped, two at once), count the shouted words."""
    shouted = Map(shout().with_output("loud"), over=("words", "word"), max_active=2)
    return Workflow(Chain(split("a b c"), shouted, count().with_inputs(("loud", "words"))))


def mapped_badly() -> Workflow:
    """A Map over an output nobody produces."""
    return Workflow(Chain(shout("x"), Map(shout(), over=("lines", "word"))))


def in_a_unit() -> Workflow:
    """Shout a word, then shout two more and count them all as one unit (retried twice)."""
    return Workflow(Chain(shout("a"), Unit(Chain(shout("b"), shout("c"), count()), retries=2)))


def all_in_a_unit() -> Workflow:
    """A unit around the whole workflow."""
    return Workflow(Unit(Group(shout("a"), shout("b"))))


def map_in_a_unit() -> Workflow:
    """A unit holding a Map: refused."""
    return Workflow(
        Chain(
            split("a b"),
            Unit(
                Chain(Map(shout().with_output("loud"), over=("words", "word")), count().with_inputs(("loud", "words")))
            ),
        )
    )
