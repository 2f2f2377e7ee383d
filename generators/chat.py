"""A small built-in set of non-reasoning chat rows (``mix: builtin-chat``), so the R1 recipe's stage-2 mix of
reasoning and non-reasoning data runs offline.

The R1 report mixes in non-reasoning SFT data (writing, factual questions, self-cognition, translation) so the
model does not answer everything with a chain of thought. These rows are ours, short, in the five languages of
the built-in problems, and answer directly.
"""

from __future__ import annotations

BUILTIN_CHAT = "builtin-chat"

CHAT: list[dict[str, str]] = [
    {"lang": "en", "prompt": "Who are you?", "response": "I am a small language model trained with r1-factory."},
    {"lang": "en", "prompt": "Say hello in French.", "response": "Bonjour!"},
    {"lang": "en", "prompt": "What is the capital of Italy?", "response": "Rome is the capital of Italy."},
    {"lang": "en", "prompt": "Give me a synonym of 'quick'.", "response": "Fast."},
    {
        "lang": "en",
        "prompt": "Write a one-line greeting for a birthday card.",
        "response": "Happy birthday, and may this year bring you joy!",
    },
    {"lang": "en", "prompt": "Translate 'good morning' into Spanish.", "response": "Buenos días."},
    {"lang": "en", "prompt": "Name three primary colours.", "response": "Red, blue and yellow."},
    {"lang": "en", "prompt": "What do bees make?", "response": "Bees make honey and wax."},
    {"lang": "es", "prompt": "¿Quién eres?", "response": "Soy un modelo de lenguaje pequeño entrenado con r1-factory."},
    {"lang": "es", "prompt": "¿Cuál es la capital de Francia?", "response": "La capital de Francia es París."},
    {"lang": "es", "prompt": "Di «gracias» en inglés.", "response": "Thank you."},
    {
        "lang": "es",
        "prompt": "Escribe un saludo corto para un amigo.",
        "response": "¡Hola, amigo! Espero que estés muy bien.",
    },
    {"lang": "fr", "prompt": "Qui es-tu ?", "response": "Je suis un petit modèle de langue entraîné avec r1-factory."},
    {
        "lang": "fr",
        "prompt": "Quelle est la capitale de l'Espagne ?",
        "response": "La capitale de l'Espagne est Madrid.",
    },
    {"lang": "fr", "prompt": "Traduis « chat » en allemand.", "response": "Katze."},
    {"lang": "fr", "prompt": "Donne un mot qui rime avec « soleil ».", "response": "Réveil."},
    {"lang": "de", "prompt": "Wer bist du?", "response": "Ich bin ein kleines Sprachmodell, trainiert mit r1-factory."},
    {
        "lang": "de",
        "prompt": "Was ist die Hauptstadt von Österreich?",
        "response": "Die Hauptstadt von Österreich ist Wien.",
    },
    {"lang": "de", "prompt": "Übersetze „Haus“ ins Englische.", "response": "House."},
    {"lang": "de", "prompt": "Nenne eine Jahreszeit.", "response": "Der Frühling."},
    {"lang": "zh", "prompt": "你是谁？", "response": "我是一个用 r1-factory 训练的小型语言模型。"},
    {"lang": "zh", "prompt": "中国的首都是哪里？", "response": "中国的首都是北京。"},
    {"lang": "zh", "prompt": "用英语说“谢谢”。", "response": "Thank you."},
    {"lang": "zh", "prompt": "写一句简短的新年祝福。", "response": "祝你新年快乐，万事如意！"},
]


def chat_rows() -> list[dict[str, str]]:
    """The built-in non-reasoning rows (prompt, response, lang, source)."""
    return [{**row, "source": BUILTIN_CHAT} for row in CHAT]
