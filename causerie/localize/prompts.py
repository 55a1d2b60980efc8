"""Fixed prompt sets: chat-quality evaluation, replay of the base model's answers, corpus task wording.

Evaluation and replay prompts never overlap, so the gate does not score answers the model was
trained on. Languages without their own wording use the English one.
"""

from __future__ import annotations

EVAL_PROMPTS: dict[str, list[str]] = {
    "fr": [
        "Quelle est la capitale de la France ?",
        "Explique en quelques phrases ce qu'est un fichier.",
        "Donne-moi trois conseils pour bien dormir.",
        "Comment préparer une tasse de thé ?",
        "Pourquoi le ciel est-il bleu ?",
        "Écris une courte présentation de la ville de Lyon.",
        "Qu'est-ce qu'un ordinateur ?",
        "Comment dit-on « merci » en anglais ?",
    ],
    "ja": [
        "日本の首都はどこですか？",
        "ファイルとは何か、簡単に説明してください。",
        "よく眠るためのコツを三つ教えてください。",
        "お茶の入れ方を教えてください。",
        "空はなぜ青いのですか？",
        "京都について短く紹介してください。",
        "コンピューターとは何ですか？",
        "「ありがとう」は英語で何と言いますか？",
    ],
    "en": [
        "What is the capital of France?",
        "Explain in a few sentences what a file is.",
        "Give me three tips for sleeping well.",
        "How do I make a cup of tea?",
        "Why is the sky blue?",
        "Write a short introduction to the city of Lyon.",
        "What is a computer?",
        "How do you say 'thank you' in French?",
    ],
}

REPLAY_PROMPTS: dict[str, list[str]] = {
    "fr": [
        "Bonjour, qui es-tu ?",
        "Peux-tu m'aider à écrire un courriel poli ?",
        "Quelle est la différence entre un fichier et un dossier ?",
        "Donne-moi une recette simple de crêpes.",
        "Qu'est-ce que la photosynthèse ?",
        "Comment apprendre une nouvelle langue ?",
        "Cite trois fleuves de France.",
        "Explique ce qu'est Internet à un enfant.",
    ],
    "ja": [
        "こんにちは、あなたは誰ですか？",
        "丁寧なメールを書くのを手伝ってください。",
        "ファイルとフォルダの違いは何ですか？",
        "簡単な料理のレシピを教えてください。",
        "光合成とは何ですか？",
        "新しい言語を学ぶにはどうすればいいですか？",
        "日本の有名な山を三つ挙げてください。",
        "インターネットとは何か子どもに説明してください。",
    ],
    "en": [
        "Hello, who are you?",
        "Can you help me write a polite email?",
        "What is the difference between a file and a folder?",
        "Give me a simple pancake recipe.",
        "What is photosynthesis?",
        "How can I learn a new language?",
        "Name three rivers in Europe.",
        "Explain what the Internet is to a child.",
        "Write a haiku about autumn.",
        "What are the benefits of regular exercise?",
        "Summarize the plot of Romeo and Juliet in two sentences.",
        "How do I sort a list in Python?",
    ],
}

TASK_WORDING: dict[str, dict[str, str]] = {
    "fr": {
        "continue": "Poursuis ce texte :\n\n{text}",
        "title": "Quel titre donnerais-tu à ce texte ?\n\n{text}",
        "summary": "Résume ce passage en une phrase.\n\n{text}",
    },
    "ja": {
        "continue": "次の文章の続きを書いてください。\n\n{text}",
        "title": "次の文章にタイトルを付けてください。\n\n{text}",
        "summary": "次の文章を一文で要約してください。\n\n{text}",
    },
    "en": {
        "continue": "Continue this text:\n\n{text}",
        "title": "What title would you give this text?\n\n{text}",
        "summary": "Summarize this passage in one sentence.\n\n{text}",
    },
}


def prompts_for(table: dict[str, list[str]], language: str) -> list[str]:
    return table.get(language, table["en"])
